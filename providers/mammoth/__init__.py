"""Mammoth Cloud (BinaryLane platform) backend: adapter, emulator and payload mapping."""
