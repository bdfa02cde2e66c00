"""Model family ``ogan``: O-GAN, whose discriminator doubles as an encoder of the generator's noise;
its spec is in :mod:`plugins.families`."""
