from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from geolab.plot import image_grid, mask_to_rgb, overlay_mask, plot_history, to_display


def test_to_display_handles_tensors_and_arrays():
    chw = torch.rand(3, 5, 7)
    assert to_display(chw).shape == (5, 7, 3)
    assert to_display(np.zeros((5, 7, 1))).shape == (5, 7)
    assert to_display(np.full((2, 2, 3), 2.0)).max() == 1.0  # float RGB clipped to [0, 1]
    with pytest.raises(ValueError):
        to_display(np.zeros((2, 2, 2, 2)))


def test_image_grid_layout_and_titles():
    imgs = [np.zeros((4, 4)), np.ones((4, 4, 3)), torch.zeros(3, 4, 4)]
    fig = image_grid(imgs, titles=["a", "b", "c"], ncols=2)
    axes = fig.axes
    assert len(axes) == 4  # 2 x 2 grid, last one empty
    assert [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert len(axes[3].images) == 0
    with pytest.raises(ValueError):
        image_grid(imgs, titles=["only one"])
    with pytest.raises(ValueError):
        image_grid([])


def test_mask_to_rgb_uses_palette_and_ignore():
    palette = [(10, 20, 30), (200, 100, 0)]
    mask = np.array([[0, 1], [255, 1]])
    rgb = mask_to_rgb(mask, palette)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert tuple(rgb[0, 0]) == (10, 20, 30) and tuple(rgb[0, 1]) == (200, 100, 0)
    assert tuple(rgb[1, 0]) == (0, 0, 0)
    with pytest.raises(ValueError, match="outside the palette"):
        mask_to_rgb(np.array([[5]]), palette)


def test_overlay_mask_legend_lists_present_classes():
    img = np.zeros((6, 6, 3), np.uint8)
    mask = np.zeros((6, 6), np.int64)
    mask[:3] = 2
    mask[5, 5] = 255
    ax = overlay_mask(img, mask, [(0, 0, 0), (1, 1, 1), (255, 0, 0)], class_names=["a", "b", "c"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a", "c"]
    overlay_rgba = ax.images[1].get_array()
    assert overlay_rgba[5, 5, 3] == 0.0  # ignored pixel is transparent
    with pytest.raises(ValueError, match="differ in size"):
        overlay_mask(img, mask[:3], [(0, 0, 0)] * 3)


def test_plot_history_pairs_train_and_val():
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "val_acc": [0.5, 0.8], "lr": [0.1, 0.01]}
    fig = plot_history(history)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "acc", "lr"]
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(KeyError):
        plot_history(history, keys=["nope"])


def _png_shape(data: bytes) -> tuple[int, ...]:
    from skimage.io import imread

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(io.BytesIO(data)).shape


def test_interactive_figure_renders_and_follows_its_controls():
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from geolab.plot import interactive_figure

    calls = []

    def draw(n: int, colour: str, scale: float) -> float:
        calls.append((n, colour, scale))
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.plot(np.arange(n) * scale, color=colour)
        return n * scale

    open_before = set(plt.get_fignums())
    fc = interactive_figure(draw, fixed={"scale": 2.0}, n=widgets.IntSlider(value=3, min=2, max=9),
                            colour=widgets.Dropdown(options=["red", "blue"], value="red"))
    assert calls == [(3, "red", 2.0)] and fc.result == 6.0
    first = fc.image.value
    # Oracle: the same figure saved by matplotlib itself.
    draw(3, "red", 2.0)
    oracle = io.BytesIO()
    plt.gcf().savefig(oracle, format="png", dpi=80, bbox_inches="tight")
    plt.close(plt.gcf())
    assert first == oracle.getvalue()
    assert 60 < _png_shape(first)[0] < 120  # about 1 inch at 80 dpi, after the tight crop
    fc.controls["n"].value = 7
    assert calls[-1] == (7, "red", 2.0) and fc.result == 14.0
    assert fc.image.value != first
    fc.controls["colour"].value = "blue"
    assert calls[-1] == (7, "blue", 2.0)
    assert set(plt.get_fignums()) == open_before  # every figure it drew is closed
    assert fc.widget.children[-1] is fc.image
    assert "application/vnd.jupyter.widget-view+json" in (fc._repr_mimebundle_() or {})


def test_interactive_figure_manual_button_fixed_and_errors():
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from geolab.plot import interactive_figure

    def draw(k: int) -> None:
        if k < 0:
            raise ValueError("k must be >= 0")
        plt.figure(figsize=(1, 1)).gca().bar([0], [k])

    fc = interactive_figure(draw, manual="draw", k=widgets.IntSlider(value=1, min=-3, max=3))
    first = fc.image.value
    fc.controls["k"].value = 3
    assert fc.image.value == first  # waits for the button
    fc.button.click()
    assert fc.image.value != first
    shown = fc.image.value
    fc.controls["k"].value = -2
    fc.button.click()
    assert "k must be &gt;= 0" in fc.message.value and fc.image.value == shown  # error shown, image kept
    fc.controls["k"].value = 2
    fc.button.click()
    assert fc.message.value == ""
    assert fc.render() is None

    def shows(k: int) -> None:
        plt.figure()
        plt.close("all")  # what plt.show() does with the inline backend

    with pytest.raises(ValueError, match="drew no matplotlib figure"):
        interactive_figure(shows, k=widgets.IntSlider())
    with pytest.raises(TypeError, match="value widget"):
        interactive_figure(draw, k=widgets.Button())
    with pytest.raises(ValueError, match="k must be"):  # the first call, in the cell, raises
        interactive_figure(draw, k=widgets.IntSlider(value=-1, min=-3, max=3))


def test_interactive_figure_accepts_a_returned_figure():
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    from geolab.plot import interactive_figure

    def make(w: float) -> Figure:
        fig = Figure(figsize=(w, 1))  # not registered with pyplot
        fig.add_subplot().plot([0, 1])
        return fig

    fc = interactive_figure(make, w=widgets.FloatSlider(value=1.0, min=1.0, max=4.0))
    narrow = _png_shape(fc.image.value)[1]
    fc.controls["w"].value = 4.0
    assert _png_shape(fc.image.value)[1] > 2 * narrow
