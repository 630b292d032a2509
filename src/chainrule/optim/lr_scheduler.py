"""Learning-rate schedules (placeholder; filled in below)."""
