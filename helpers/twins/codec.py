"""Hand-set weights that turn a twin's VAE into a real image codec: colour averages over each latent cell.

The encoder keeps every residual branch at zero, so a picture flows along the skip paths only:
`conv_in` splits it into luma and two colour-difference signals, each down-sampler averages 2x2 pixels, and
`conv_out` writes the cell averages into the latent (luma twice: channels 0 and 3). The decoder reverses this: it
sharpens the latent grid a little, and each up-sampler interpolates linearly, so a decoded latent is a smooth,
recognisable copy of the picture.

Group norms divide by a statistic of the whole picture, which would remove its brightness and contrast. Each signal
therefore travels with its negative and a constant pair (+K, -K) in one group: the group mean is then exactly 0 and
its spread is K/2 to within 2e-4, so the norm is a fixed, known scale. The SiLU after it runs at +14, where it is
linear to within 1e-5.
"""

from __future__ import annotations

K = 100.0  # the constant pair that pins each group norm's spread
SHIFT = 14.0  # where SiLU(x) = x to within 1e-5 over [-3, 3]
WIDTH = 8  # channels at every level: (Y, -Y, Cb, -Cb, Cr, -Cr, K, -K)
SHARPEN = 0.25  # strength of the decoder's prefilter on the latent grid
LOGVAR = -30.0  # AutoencoderKL clamps log-variance here: its samples equal its mean to within 3e-7

# [-1, 1] RGB -> (Y, Cb, Cr), ITU-R BT.601, and back
TO_YCC = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
TO_RGB = ((1.0, 0.0, 1.402), (1.0, -0.344136, -0.714136), (1.0, 1.772, 0.0))


def codec_config(blocks: int) -> dict:
    """Encoder/decoder keyword arguments that `set_codec_weights` expects (ch. 1)."""
    return {"block_out_channels": [WIDTH] * blocks, "layers_per_block": 1, "norm_num_groups": 1}


def _zero(module) -> None:
    for p in module.parameters():
        p.data.zero_()


def _identity_blocks(part) -> None:
    """Zero every residual branch and attention output: each block then passes its input through."""
    import torch

    for module in part.modules():
        if type(module).__name__ == "ResnetBlock2D":
            _zero(module.conv2)
            if module.conv_shortcut is not None:  # pragma: no cover - widths are equal at every level
                raise ValueError("set_codec_weights needs equal widths at every level")
        elif type(module).__name__ == "Attention":
            for layer in module.to_out:
                if isinstance(layer, torch.nn.Linear):
                    _zero(layer)


def _center(conv, matrix, bias) -> None:
    """Make a conv a per-pixel linear map (centre tap only)."""
    import torch

    _zero(conv)
    k = conv.kernel_size[0] // 2
    conv.weight.data[:, :, k, k] = torch.tensor(matrix, dtype=conv.weight.dtype)
    conv.bias.data[:] = torch.tensor(bias, dtype=conv.bias.dtype)


def _per_channel(conv, taps, constant_taps) -> None:
    """Give each signal channel the separable kernel `taps` and the constant pair `constant_taps`; no mixing.

    The constant pair must stay exactly constant up to the picture's edge, where zero padding would otherwise
    shrink it and so change the group norm's spread for the whole picture.
    """
    import torch

    _zero(conv)
    for c in range(conv.weight.shape[0]):
        t = torch.tensor(taps if c < 6 else constant_taps, dtype=conv.weight.dtype)
        conv.weight.data[c, c] = torch.outer(t, t)


def _norm(norm) -> None:
    """Group norm with group spread K/2 -> multiply back by K/2, then shift into SiLU's linear range."""
    norm.weight.data[:] = K / 2
    norm.bias.data[:] = SHIFT
    norm.bias.data[6:] = 0.0  # the constant pair needs no care


def _split(signals: list[list[float]]) -> tuple[list[list[float]], list[float]]:
    """Rows for (s1, -s1, s2, -s2, s3, -s3, K, -K) given the three signal rows."""
    rows, bias = [], []
    for row in signals:
        rows += [row, [-v for v in row]]
        bias += [0.0, 0.0]
    width = len(signals[0])
    rows += [[0.0] * width, [0.0] * width]
    bias += [K, -K]
    return rows, bias


def set_codec_weights(vae, gains: tuple[float, ...]) -> None:
    """Set a twin AutoencoderKL or VQModel to the colour-average codec; latent channel j gets gain gains[j] (ch. 1)."""
    import torch

    enc, dec = vae.encoder, vae.decoder
    latent = len(gains)
    with torch.no_grad():
        _identity_blocks(enc)
        _identity_blocks(dec)
        rows, bias = _split([list(r) for r in TO_YCC])
        _center(enc.conv_in, rows, bias)
        for block in enc.down_blocks:
            for down in block.downsamplers or []:
                # padding (0, 1, 0, 1) then stride 2: taps 0 and 1 average each 2x2 cell
                _per_channel(down.conv, (0.5, 0.5, 0.0), (1.0, 0.0, 0.0))
        _norm(enc.conv_norm_out)
        picks = [0, 2, 4, 0]  # Y, Cb, Cr, Y
        out_rows = [[1.0 if i == p else 0.0 for i in range(WIDTH)] for p in picks]
        out_bias = [-SHIFT] * latent
        if enc.conv_out.out_channels == 2 * latent:  # AutoencoderKL: a mean and a log-variance per channel
            out_rows += [[0.0] * WIDTH] * latent
            out_bias += [LOGVAR] * latent
        _center(enc.conv_out, out_rows, out_bias)
        n = vae.quant_conv.out_channels
        q = [[0.0] * n for _ in range(n)]
        qb = [0.0] * n
        for j in range(n):
            if j < latent:
                q[j][j] = gains[j]
            else:
                qb[j] = LOGVAR
        _center(vae.quant_conv, q, qb)
        _center(vae.post_quant_conv, [[1.0 / gains[j] if i == j else 0.0 for i in range(latent)]
                                      for j in range(latent)], [0.0] * latent)
        # latent -> (Y, Cb, Cr); luma is the mean of channels 0 and 3
        ycc = [[0.5, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
        rows, bias = _split(ycc)
        _center(dec.conv_in, rows, bias)
        # sharpen on the latent grid: the cascaded linear interpolation below softens edges, and this
        # (-a, 1 + 2a, -a) prefilter gives back about 1.5 dB on photos (a chosen on the training photos of train.py)
        taps = torch.tensor((-SHARPEN, 1 + 2 * SHARPEN, -SHARPEN))
        dec.conv_in.weight.data[:6] = dec.conv_in.weight.data[:6, :, 1:2, 1:2] * torch.outer(taps, taps)
        for block in dec.up_blocks:
            for up in block.upsamplers or []:
                # after nearest-neighbour doubling, (1, 2, 1) / 4 is linear interpolation
                _per_channel(up.conv, (0.25, 0.5, 0.25), (0.0, 1.0, 0.0))
        _norm(dec.conv_norm_out)
        rgb = [[TO_RGB[c][0], 0.0, TO_RGB[c][1], 0.0, TO_RGB[c][2], 0.0, 0.0, 0.0] for c in range(3)]
        _center(dec.conv_out, rgb, [-SHIFT * sum(r) for r in rgb])


def latent_gains(scaling_factor: float) -> tuple[float, float, float, float]:
    """Per-channel gains that give latents x scaling_factor a spread near 1 on photos, as the real VAEs do (ch. 1).

    In [-1, 1] units, luma spreads about +-0.5 over a photo and each colour difference about +-0.15.
    """
    luma, colour = 2.0 / scaling_factor, 6.0 / scaling_factor
    return (luma, colour, colour, luma)


def round_trip(vae, image):
    """Encode an RGB picture with a twin VAE or MoVQ and decode it again: (latents, picture) (ch. 1)."""
    import numpy as np
    import torch
    from PIL import Image

    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    with torch.no_grad():
        if hasattr(vae, "quantize"):  # MoVQ: the pipelines decode its latents without quantizing
            z = vae.encode(x).latents
            y = vae.decode(z, force_not_quantize=True).sample
        else:
            z = vae.encode(x).latent_dist.sample()
            y = vae.decode(z).sample
    pixels = ((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return z, Image.fromarray(pixels)
