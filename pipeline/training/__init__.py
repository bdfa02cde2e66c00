"""Training: the modules families derive from, optimizers and tricks, the Trainer and its
callbacks."""
