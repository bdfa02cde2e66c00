"""The built-in model families: every one and its settings, in one table.

Registered by entry point exactly as a third-party family package is. This module stays free of
torch: each spec's ``load`` is a lazy ``"module:Class"`` reference to the family's ``family.py``,
imported only when a stage builds or evaluates a model.
"""

from __future__ import annotations

from pipeline import FamilySpec, Setting, hookimpl
from plugins.generative.settings import gan_settings, r1_setting, vae_settings

FAMILIES = [
    FamilySpec(
        "classifier",
        "MLP classifier: Dense(hidden, relu) -> Dense(classes, softmax)",
        load="plugins.classifier.family:ClassifierFamily",
        settings={
            "hidden": Setting(100, "units of the hidden ReLU layer", low=1),
            "loss": Setting(
                "cross_entropy",
                "training loss: cross_entropy, or 1 − soft_accuracy / soft_f1 computed from the "
                "probabilities (F1 of class 1 for two classes, else macro)",
                choices=("cross_entropy", "soft_accuracy", "soft_f1"),
            ),
        },
    ),
    FamilySpec(
        "vae",
        "variational autoencoder: encoder -> (mu, log var), Bernoulli decoder, N(0, I) prior",
        load="plugins.vae.family:VAEFamily",
        settings=vae_settings(latent=2, recon_weight=1.0),
    ),
    FamilySpec(
        "cvae",
        "conditional VAE: KL toward a learned prior mean per class; sample a chosen class",
        load="plugins.cvae.family:CVAEFamily",
        settings=vae_settings(latent=8, recon_weight=1.0),
    ),
    FamilySpec(
        "cluster_vae",
        "clustering VAE: Gaussian-mixture prior, p(y|z) learned jointly; unsupervised",
        load="plugins.cluster_vae.family:ClusterVAEFamily",
        settings={
            **vae_settings(latent=4, recon_weight=2.5),
            "clusters": Setting(10, "mixture components, i.e. clusters to find", low=2),
            "kmeans_start": Setting(
                60,
                "epoch at which the mixture means move to KMeans centres of the training codes "
                "μ(x); 0 keeps their random start",
                low=0,
            ),
        },
    ),
    FamilySpec(
        "nvae",
        "hierarchical VAE (NVAE): latent groups top-down, residual normal posteriors, Bernoulli x",
        load="plugins.nvae.family:NVAEFamily",
        settings={
            "hidden": Setting(128, "units of every residual cell and of the top-down state", low=1),
            "latent": Setting(8, "latent dimensions of each group", low=1),
            "groups": Setting(
                3,
                "latent groups z_1 … z_L, each conditioned on those above; 1 is a plain VAE",
                low=1,
                high=8,
            ),
            "cells": Setting(
                1,
                "residual cells (BN, Swish, Linear, twice, then squeeze-excite) per group, "
                "on the bottom-up and the top-down path",
                low=0,
                high=8,
            ),
            "warmup": Setting(
                0,
                "KL warm-up: epochs over which the KL's weight rises linearly to 1; 0 is none",
                low=0,
            ),
        },
    ),
    FamilySpec(
        "gan",
        "GAN in one loss: L_D(x, sg(G(z))) + lambda * L_G with D's parameters cut",
        load="plugins.gan.family:GANFamily",
        settings={**gan_settings(latent=16), "r1": r1_setting()},
    ),
    FamilySpec(
        "wgan_gp",
        "WGAN-GP in one loss: critic E D(fake) - E D(real) + gradient penalty",
        load="plugins.wgan_gp.family:WGANGPFamily",
        settings={
            **gan_settings(latent=16),
            "penalty": Setting(10.0, "weight of the gradient penalty E(‖∇D(x̂)‖ − 1)²", low=0),
        },
    ),
    FamilySpec(
        "ogan",
        "O-GAN: discriminator E(x) with score avg(E(x)) plus -Pearson(z, E(G(z))); E encodes",
        load="plugins.ogan.family:OGANFamily",
        settings={
            **gan_settings(latent=16),
            "r1": r1_setting(),
            "correlation_weight": Setting(
                0.5, "weight of −ρ(z, E(G(z))) in both players' losses", low=0
            ),
        },
    ),
    FamilySpec(
        "ebm",
        "energy-based model: MLP energy E(x), contrastive divergence with Langevin samples",
        load="plugins.ebm.family:EBMFamily",
        settings={
            "hidden": Setting(128, "units of each hidden ELU layer of the energy network", low=1),
            "steps": Setting(20, "Langevin steps each training batch runs its chains", low=1),
            "step": Setting(
                1e-4, "Langevin step ε: x ← x − (ε/2)∇E(x) + √ε·noise", low=0, low_open=True
            ),
            "buffer": Setting(10000, "persistent chains kept in the replay buffer", low=1),
            "fresh": Setting(
                0.05, "share of chains restarted from uniform noise each batch", low=0, high=1
            ),
            "energy_l2": Setting(0.1, "weight α of α·(E(real)² + E(samples)²)", low=0),
            "sample_steps": Setting(
                500, "Langevin steps from uniform noise for the samples evaluate draws", low=1
            ),
        },
    ),
    FamilySpec(
        "iresnet",
        "invertible residual network: x + g(x) blocks with Lip(g) < 1, exact-likelihood flow",
        load="plugins.iresnet.family:IResNetFamily",
        settings={
            "hidden": Setting(64, "units of each hidden ELU layer of a residual branch g", low=1),
            "blocks": Setting(8, "residual blocks x + g(x)", low=1),
            "coefficient": Setting(
                0.9,
                "spectral norm of each linear layer of g, so Lip(g) ≤ coefficient³ < 1",
                low=0,
                high=1,
                low_open=True,
                high_open=True,
            ),
            "series_terms": Setting(
                16, "terms of the power series log det(I + J_g) = Σ (−1)^(k+1) tr(J_g^k)/k", low=1
            ),
        },
    ),
    FamilySpec(
        "glann",
        "GLANN: GLO codes and generator G, then IMLE maps noise to the codes; samples G(T(e))",
        load="plugins.glann.family:GLANNFamily",
        settings={
            "hidden": Setting(128, "units of each hidden ReLU layer of G and of T", low=1),
            "latent": Setting(16, "dimensions of the GLO codes z, kept in the unit ball", low=1),
            "noise": Setting(16, "dimensions of the Gaussian noise e that T maps to codes", low=1),
            "glo_epochs": Setting(
                100,
                "epochs of GLO (G and codes) before IMLE trains T on the frozen codes; "
                "trainer.max_epochs counts both phases",
                low=0,
            ),
            "imle_samples": Setting(
                640,
                "samples T(e) drawn per IMLE batch, among which each code finds its nearest",
                low=1,
            ),
        },
    ),
    FamilySpec(
        "on_lstm",
        "ON-LSTM language model: cumax master gates order the neurons; trees from their distances",
        load="plugins.on_lstm.family:OnLstmFamily",
        reads=("tokens",),
        settings={
            "embedding": Setting(32, "size of the character embedding", low=1),
            "hidden": Setting(64, "units of each ON-LSTM layer (a multiple of chunk_size)", low=1),
            "chunk_size": Setting(
                4, "neurons per level of the master gates: hidden / chunk_size levels", low=1
            ),
            "layers": Setting(1, "stacked ON-LSTM layers", low=1, high=8),
            "dropout": Setting(
                0.1, "dropout on embeddings, between layers and on outputs", low=0, high=0.9
            ),
            "baseline": Setting(
                True, "train a plain LSTM of the same size beside it, for lstm_perplexity"
            ),
        },
    ),
    FamilySpec(
        "cln_lm",
        "causal Transformer LM whose LayerNorms take gain and bias shifted by a label embedding",
        load="plugins.cln_lm.family:CLNFamily",
        reads=("tokens",),
        settings={
            "d_model": Setting(64, "width of the token vectors (a multiple of heads)", low=1),
            "heads": Setting(4, "attention heads per layer", low=1),
            "layers": Setting(2, "Transformer blocks", low=1, high=24),
            "dropout": Setting(0.0, "dropout on embeddings and block outputs", low=0, high=0.9),
            "attention": Setting(
                "softmax",
                "softmax, or linear: φ(Q)(φ(K)ᵀV) normalised, φ = elu + 1, linear in length",
                choices=("softmax", "linear"),
            ),
            "temperature": Setting(
                1.0, "sampling temperature of the texts evaluate generates; 0 is greedy", low=0
            ),
        },
    ),
    FamilySpec(
        "pplm",
        "plug-and-play control: an unconditional Transformer LM steered at generation time by an "
        "attribute classifier's gradient on its hidden state",
        load="plugins.pplm.family:PPLMFamily",
        reads=("tokens",),
        settings={
            "d_model": Setting(64, "width of the token vectors (a multiple of heads)", low=1),
            "heads": Setting(4, "attention heads per layer", low=1),
            "layers": Setting(2, "Transformer blocks", low=1, high=24),
            "dropout": Setting(0.0, "dropout on embeddings and block outputs", low=0, high=0.9),
            "attention": Setting(
                "softmax",
                "softmax, or linear: φ(Q)(φ(K)ᵀV) normalised, φ = elu + 1, linear in length",
                choices=("softmax", "linear"),
            ),
            "temperature": Setting(
                1.0, "sampling temperature of the texts evaluate generates; 0 is greedy", low=0
            ),
            "step_size": Setting(
                100.0,
                "α of each gradient step Δ ← Δ − α∇L/‖∇L‖^norm_power on the hidden state; 0 "
                "leaves the LM's distribution as it is",
                low=0,
            ),
            "steps": Setting(3, "gradient steps on the hidden state per generated token", low=0),
            "kl_weight": Setting(
                0.01, "weight of KL(steered ‖ LM next-token distribution) in the loss L", low=0
            ),
            "fusion": Setting(
                0.95,
                "γ of the sampled distribution p_steered^γ · p_LM^(1−γ), renormalised; 0 is the LM",
                low=0,
                high=1,
            ),
            "norm_power": Setting(
                0.0,
                "power of the gradient's norm that divides each step: 1 the paper's normalised "
                "step, 0 a plain gradient step that shrinks as the classifier grows sure",
                low=0,
            ),
            "reads": Setting(
                "next",
                "what the classifier reads: the mean hidden state with the steered one (current), "
                "or also the state one token ahead, fed the expected next-token embedding (next)",
                choices=("current", "next"),
            ),
        },
    ),
    FamilySpec(
        "seq2seq",
        "title generation: BiLSTM encoder, LSTM decoder with conditional LayerNorm and attention",
        load="plugins.seq2seq.family:Seq2SeqFamily",
        reads=("token_pairs",),
        settings={
            "embedding": Setting(
                32, "size of the character embedding, shared by both sides", low=1
            ),
            "hidden": Setting(64, "units of each encoder direction and of the decoder", low=1),
            "beam": Setting(4, "beam width of the decoding; 1 is greedy", low=1),
            "max_title": Setting(
                47, "most tokens a generated title holds, its end marker included", low=1
            ),
            "dropout": Setting(0.1, "dropout on embeddings and decoder outputs", low=0, high=0.9),
        },
    ),
    FamilySpec(
        "unilm",
        "seq2seq by masks (UniLM): one Transformer reads [article, title], the article "
        "bidirectionally and the title causally; titles by beam search",
        load="plugins.unilm.family:UniLMFamily",
        reads=("token_pairs",),
        settings={
            "d_model": Setting(64, "width of the token vectors (a multiple of heads)", low=1),
            "heads": Setting(4, "attention heads per layer", low=1),
            "layers": Setting(2, "Transformer blocks", low=1, high=24),
            "dropout": Setting(0.1, "dropout on embeddings and block outputs", low=0, high=0.9),
            "mask": Setting(
                "prefix",
                "prefix: the article attends to itself both ways, the title to the article and "
                "causally to itself (seq2seq); causal: every position to those before it (a plain "
                "language model of the concatenation)",
                choices=("prefix", "causal"),
            ),
            "beam": Setting(4, "beam width of the decoding; 1 is greedy", low=1),
            "max_title": Setting(
                47, "most tokens a generated title holds, its end marker included", low=1
            ),
        },
    ),
    FamilySpec(
        "jose",
        "JoSE: word, context and document vectors on the unit sphere, max-margin loss, "
        "Riemannian SGD",
        load="plugins.jose.family:JoSEFamily",
        reads=("tokens",),
        settings={
            "dim": Setting(100, "dimensions of every word, context and document vector", low=2),
            "window": Setting(
                5, "context words on each side of a center word (shrunk at random per word)", low=1
            ),
            "negatives": Setting(2, "negative words drawn per (center, context) pair", low=1),
            "margin": Setting(
                0.15, "margin m of max(0, m − v·u − u·d + v·u' + u'·d)", low=0, low_open=True
            ),
            "subsample": Setting(
                1e-3,
                "word2vec's subsampling threshold t: a word of share f is kept with chance "
                "(√(f/t) + 1)·t/f; 0 keeps every word",
                low=0,
            ),
        },
    ),
    FamilySpec(
        "bioword",
        "BioWord (FlyVec): Kenyon cells learn word contexts by a winner-take-all Hebbian rule; "
        "binary k-of-K hashes",
        load="plugins.bioword.family:BioWordFamily",
        reads=("tokens",),
        settings={
            "cells": Setting(400, "Kenyon cells K, the bits of every hash", low=1),
            "hash_length": Setting(
                32, "k: the most active cells a hash keeps (its ones); at most cells", low=1
            ),
            "context": Setting(
                5, "words on each side of the target word in a training window", low=1, high=64
            ),
        },
    ),
    FamilySpec(
        "infomax",
        "Deep INFOMAX encoder: global and local Jensen-Shannon MI plus a Gaussian prior",
        load="plugins.infomax.family:InfomaxFamily",
        settings={
            "latent": Setting(8, "code dimensions (the PCA baseline keeps as many)", low=1),
            "hidden": Setting(256, "units of the encoder's and the critics' hidden layers", low=1),
            "channels": Setting(
                32, "channels of the first convolution (the second has twice)", low=1
            ),
            "global_mi": Setting(
                0.5, "α: weight of the global MI term (image features, code)", low=0
            ),
            "local_mi": Setting(
                1.5, "β: weight of the local MI term (each feature-map location, code)", low=0
            ),
            "prior": Setting(
                0.01, "γ: weight of KL(p(z|x) ‖ N(0, I)), matching the codes to the prior", low=0
            ),
        },
    ),
]


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    """Every built-in model family."""
    return list(FAMILIES)
