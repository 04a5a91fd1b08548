"""A config whose formatted text is computed once per content.

mmengine's ``Runner.save_checkpoint`` stores ``cfg.pretty_text`` in every
checkpoint's meta, and ``Config.pretty_text`` formats the whole config with
yapf each time it is read. For an fx_mm config that is about 3 s of one core
per checkpoint (measured with cProfile on the demo's first cycle,
2026-12-03: 15.8 of the 18.4 s that five ``save_checkpoint`` calls took),
longer than a demo pass trains, and again for every pass of a real run. The
text depends only on the config's content, so it is kept, and formatted
again only when the content has changed since.
"""
from mmengine.config import Config


class TextCachedConfig(Config):
    """:class:`mmengine.config.Config` with a cached ``pretty_text``.

    Everything else is Config's. The cache is keyed on ``repr`` of the
    config's content (milliseconds, against seconds of yapf), so a config
    changed after the first read -- ``--cfg-options``, a loop setting a
    default -- still gets its own text. ``copy.deepcopy`` (which
    ``Runner`` applies to its config) keeps the class and the cache.
    """

    @classmethod
    def from_config(cls, cfg: Config) -> 'TextCachedConfig':
        """The same config (the same content object, not a copy) with the
        cached text."""
        if isinstance(cfg, cls):
            return cfg
        other = cls.__new__(cls)
        other.__dict__.update(cfg.__dict__)
        return other

    @property
    def pretty_text(self) -> str:
        """The formatted config text (``Config.pretty_text``), formatted
        once per content."""
        key = repr(self._cfg_dict)
        cached = self.__dict__.get('_pretty_text_cache')
        if cached is None or cached[0] != key:
            cached = (key, super().pretty_text)
            # Config.__setattr__ writes into the content; this is not content.
            object.__setattr__(self, '_pretty_text_cache', cached)
        return cached[1]
