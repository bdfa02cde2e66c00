"""Model family ``bioword``: FlyVec word hashing by a fruit-fly network of Kenyon cells trained with
a winner-take-all Hebbian rule; its spec is in :mod:`plugins.families`."""
