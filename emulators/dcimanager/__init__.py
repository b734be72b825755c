"""DCImanager (ISPsystem) emulator: the REST paths the adapter calls and a seeded installation."""
