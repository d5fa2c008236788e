"""How a model's word-embedding table starts (``embeddings=`` in the config, conf/embeddings/):
``random`` (the model's own initialisation), ``ppmi_svd`` (vectors counted from text the recipe
already has, ``word_vectors.py``, cached on disk by ``nlprnn.data.disk_cache``) or ``file`` (the user's
word2vec / GloVe file, ``pretrained_vectors.py``)."""
