"""Search orchestration: the search space, the stage objectives, storage and the study runner."""
