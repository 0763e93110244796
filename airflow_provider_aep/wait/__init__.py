"""What every wait shares: its options, its schedule, its status log, its events, the wait mixin."""
