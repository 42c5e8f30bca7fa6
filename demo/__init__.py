"""``forwardflow demo``: the main job end to end on embedded defaults, one function per step.

Outside the product: it plays the firm's platform (an emulator), the buyer (a loopback
SFTP server and gpg) and the controller, and drives the real service in between.
"""
