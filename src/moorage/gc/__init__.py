"""Online garbage collection: mark and sweep that never deletes what is or is about to be referenced."""
