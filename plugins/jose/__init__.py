"""Model family ``jose``: spherical word, context and document embeddings trained by Riemannian SGD
on a max-margin loss; its spec is in :mod:`plugins.families`."""
