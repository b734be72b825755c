"""DCImanager (ISPsystem) backend: adapter, emulator and its seeded fleet."""
