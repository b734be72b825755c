"""DCImanager (ISPsystem) backend: adapter, session client and mapping."""
