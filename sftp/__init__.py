"""Outbound adapter: sale files built, encrypted and delivered to buyers over SFTP."""
