"""Where trips come from: the seeded simulator and replays of real TLC files."""
