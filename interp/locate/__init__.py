"""Toxic-layer location (DINM, Wang et al. ACL 2024): where do safe and unsafe answers part most?

For one SafeEdit record (an adversarial prompt X, a safe answer Y_safe and an unsafe answer
Y_unsafe) run both answers through the model, read the hidden state of every layer, and pick the
layer where the two are furthest apart (L2). The toxic region is that layer's MLP output matrix
(TransformerLens ``blocks.{l}.mlp.W_out``; Hugging Face ``mlp.c_proj`` / ``mlp.down_proj``).

The five definitions of "the hidden states" (``method=``: ``"response_mean"``, the default,
``"last_token"``, ``"easyedit"``, which reproduces EasyEdit's locator, and the scale-free
``"response_relative"`` and ``"response_cosine"``) are described and
computed in :mod:`interp.locate.distances`.

In all methods the chosen layer is the first argmax of the distances (EasyEdit keeps the first
of equal maxima too). Unlike EasyEdit's script, which locates once for the first record and
reuses that layer, :func:`locate_over` locates every record (as the paper describes).

* :mod:`interp.locate.toxic_layer` -- :func:`locate_toxic_layer` (one record) and
  :func:`locate_over` (a dataset);
* :mod:`interp.locate.distances` -- the distance definitions, :data:`LOCATE_METHODS`;
* :mod:`interp.locate.localization` -- the results (:class:`Localization`,
  :class:`LocationSummary`) and :class:`Region`, a layer's parameter matrix.
"""

from interp.locate.distances import LOCATE_METHODS
from interp.locate.localization import Localization, LocationSummary, Region
from interp.locate.toxic_layer import locate_over, locate_toxic_layer

__all__ = ["LOCATE_METHODS", "Localization", "LocationSummary", "Region", "locate_over",
           "locate_toxic_layer"]
