"""The running service: subscribe -> store -> update models -> re-plan -> publish."""
