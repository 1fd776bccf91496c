"""Plots the course draws again and again.

Image grids, label overlays, training curves, and matplotlib figures driven by ipywidgets
controls.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from geolab.constants import IGNORE_INDEX

__all__ = ["FigureControls", "image_grid", "interactive_figure", "mask_to_rgb", "overlay_mask", "plot_history",
           "to_display"]


def to_display(image: Any) -> np.ndarray:
    """Turn an image into an array matplotlib shows as intended.

    Args:
        image: NumPy array ``(H, W)``, ``(H, W, C)`` or a torch tensor ``(C, H, W)`` /
            ``(H, W)``; uint8 in 0..255 or float in 0..1.

    Returns:
        ``(H, W)`` or ``(H, W, 3|4)`` array.
    """
    if hasattr(image, "detach"):  # torch tensor, channels first
        arr = image.detach().cpu().numpy()
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
            arr = np.moveaxis(arr, 0, -1)
    else:
        arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected an image of 2 or 3 dimensions, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.ndim == 3 and arr.dtype.kind == "f":
        arr = np.clip(arr, 0.0, 1.0)
    return arr


def image_grid(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str = "gray",
    size: float = 2.5,
    suptitle: str | None = None,
) -> Figure:
    """Show several images side by side with optional titles.

    Args:
        images: Images accepted by :func:`to_display`.
        titles: One title per image.
        ncols: Columns of the grid (default: up to 6).
        cmap: Colour map for single-channel images.
        size: Size of one panel in inches.
        suptitle: Title of the whole figure.
    """
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} images")
    ncols = ncols or min(n, 6)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        arr = to_display(images[i])
        ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def mask_to_rgb(mask: np.ndarray, palette: Sequence[Sequence[int]], ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Colour a label mask.

    Args:
        mask: ``(H, W)`` integer class ids.
        palette: RGB colour (0..255) per class id.
        ignore_index: Id drawn black (not a class).

    Returns:
        ``(H, W, 3)`` uint8 image.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    pal = np.zeros((256, 3), dtype=np.uint8)
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(colours) > 255:
        raise ValueError("at most 255 classes can be drawn")
    pal[: len(colours)] = colours
    ids = mask.astype(np.int64)
    bad = ((ids < 0) | (ids >= len(colours))) & (ids != ignore_index)
    if bad.any():
        raise ValueError(
            f"mask holds ids {sorted(np.unique(ids[bad]).tolist())[:10]} outside the palette "
            f"of {len(colours)} colours"
        )
    ids = np.where(ids == ignore_index, 255, ids)
    return pal[ids]


def overlay_mask(
    image: Any,
    mask: np.ndarray,
    palette: Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    alpha: float = 0.5,
    ignore_index: int = IGNORE_INDEX,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a label mask over an image, with a legend of the classes present.

    Args:
        image: RGB image ``(H, W, 3)`` (or anything :func:`to_display` accepts).
        mask: ``(H, W)`` class ids, same size as the image.
        palette: RGB colour per class id.
        class_names: Name per class id for the legend.
        alpha: Opacity of the mask, 0..1.
        ignore_index: Id left transparent.
        ax: Axes to draw into (default: a new figure).
        title: Axes title.
    """
    img = to_display(image)
    mask = np.asarray(mask)
    if img.shape[:2] != mask.shape:
        raise ValueError(f"image {img.shape[:2]} and mask {mask.shape} differ in size")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6 * mask.shape[0] / max(mask.shape[1], 1)))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    rgba = np.zeros((*mask.shape, 4), dtype=np.float32)
    rgba[..., :3] = mask_to_rgb(mask, palette, ignore_index) / 255.0
    rgba[..., 3] = np.where(mask == ignore_index, 0.0, alpha)
    ax.imshow(rgba)
    present = [int(c) for c in np.unique(mask) if c != ignore_index]
    handles = [
        Patch(
            color=(palette[c][0] / 255.0, palette[c][1] / 255.0, palette[c][2] / 255.0),
            label=class_names[c] if class_names is not None else str(c),
        )
        for c in present
    ]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    size: tuple[float, float] = (4.0, 3.0),
) -> Figure:
    """Plot per-epoch training curves.

    ``train_<name>`` and ``val_<name>`` share one panel; any other key gets its own.

    Args:
        history: Mapping from a metric name to one value per epoch, as returned by
            :func:`geolab.train.fit`.
        keys: Metric names to draw (default: all).
        size: Size of one panel in inches.
    """
    keys = list(keys) if keys is not None else [k for k, v in history.items() if len(v)]
    panels: dict[str, list[str]] = {}
    for key in keys:
        if key not in history:
            raise KeyError(f"history has no {key!r}; it has {sorted(history)}")
        base = key.split("_", 1)[1] if key.startswith(("train_", "val_")) else key
        panels.setdefault(base, []).append(key)
    if not panels:
        raise ValueError("history is empty")
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for ax, (base, members) in zip(axes.flat, panels.items()):
        for key in members:
            values = list(history[key])
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(base)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


class FigureControls:
    """ipywidgets controls wired to a plotting function; see :func:`interactive_figure`.

    Attributes:
        widget: The ``VBox`` to display (controls, optional button, message line, image).
        controls: Name -> control widget.
        image: The ``ipywidgets.Image`` that shows the latest figure as PNG.
        message: An ``HTML`` line that shows an error raised by the function, if any.
        result: What the function returned on its latest successful call.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        controls: Mapping[str, Any],
        fixed: Mapping[str, Any],
        manual: str | None,
        dpi: int,
    ) -> None:
        import ipywidgets as widgets

        for name, control in controls.items():
            if not isinstance(control, widgets.ValueWidget):
                raise TypeError(f"control {name!r} must be an ipywidgets value widget (a slider, a dropdown, "
                                f"...), got {type(control).__name__}")
        self.function = function
        self.controls = dict(controls)
        self.fixed = dict(fixed)
        self.dpi = dpi
        self.result: Any = None
        self.image = widgets.Image(format="png")
        self.message = widgets.HTML()
        self.button = widgets.Button(description=manual) if manual else None
        children: list[Any] = list(self.controls.values())
        if self.button is not None:
            self.button.on_click(lambda _button: self._update())
        else:
            for control in self.controls.values():
                control.observe(lambda _change: self._update(), names="value")
        children += [self.button] if self.button is not None else []
        self.widget = widgets.VBox(children + [self.message, self.image])
        self.render()

    def values(self) -> dict[str, Any]:
        """The keyword arguments the function gets now: the controls' values and the fixed ones."""
        return {**{name: c.value for name, c in self.controls.items()}, **self.fixed}

    def render(self) -> Any:
        """Call the function with the current values and show its figure; return its result.

        Raises:
            ValueError: If the call leaves no new matplotlib figure (e.g. it called
                ``plt.show()``, which hands the figure to the notebook and closes it).
        """
        before = set(plt.get_fignums())
        try:
            result = self.function(**self.values())
        finally:
            new = [plt.figure(n) for n in plt.get_fignums() if n not in before]
        figure = result if isinstance(result, Figure) else (new[-1] if new else None)
        if figure is None:
            raise ValueError(
                f"{getattr(self.function, '__name__', 'the function')} drew no matplotlib figure: draw one "
                "(or return a Figure) and do not call plt.show(), which hands the figure to the notebook")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=self.dpi, bbox_inches="tight")
        for fig in {*new, figure}:
            plt.close(fig)
        self.image.value = buffer.getvalue()
        self.result = result
        self.message.value = ""
        return result

    def _update(self) -> None:
        """Re-render after a control changed; show an error in the widget instead of raising it."""
        import html

        try:
            self.render()
        except Exception as err:  # noqa: BLE001 - shown to the user, who can change the control again
            self.message.value = f"<pre style='color:#b00'>{html.escape(type(err).__name__ + ': ' + str(err))}</pre>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def interactive_figure(
    function: Callable[..., Any],
    *,
    fixed: Mapping[str, Any] | None = None,
    manual: str | None = None,
    dpi: int = 80,
    **controls: Any,
) -> FigureControls:
    """Drive a plotting function with ipywidgets controls; the figure is shown as a PNG image.

    ``function(**values)`` must draw a matplotlib figure (or return one) without calling
    ``plt.show()``; whatever it returns is kept in ``.result``. Unlike
    ``ipywidgets.interactive`` this uses no ``Output`` widget: headless notebook runners
    (nbclient, as used by Jupyter Book and nbconvert) mimic that widget by sending messages
    back to the kernel while they wait for its reply, which can stall a build until the cell
    timeout. Here the kernel only updates an ``Image`` widget, and the executed notebook keeps
    the first figure in its widget state.

    Args:
        function: The plain plotting function (the notebook can also call it directly).
        fixed: Keyword arguments passed unchanged on every call.
        manual: Label of a button that triggers the call; when ``None`` every change of a
            control triggers it (set ``continuous_update=False`` on slow sliders).
        dpi: Resolution of the PNG, in dots per inch.
        **controls: One ipywidgets value widget (slider, dropdown, checkbox, ...) per argument.

    Returns:
        A :class:`FigureControls`; display it (or its ``.widget``) in a notebook.
    """
    return FigureControls(function, controls, fixed or {}, manual, dpi)
