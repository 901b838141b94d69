"""Training: context, step loop, phases, optimisers and schedules."""
