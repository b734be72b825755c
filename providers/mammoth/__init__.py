"""Mammoth Cloud (BinaryLane platform) backend: adapter and payload mapping."""
