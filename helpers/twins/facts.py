"""What a caller can observe about each real checkpoint; the twins must match every row.

Each entry was read from the real repository's `model_index.json` and component `config.json` /
`scheduler_config.json` files on the Hugging Face Hub (the `source` field). The twin builder reads the
same numbers, and `tests/test_twins.py` checks every built twin against this table.
"""

from __future__ import annotations

HUB = "https://huggingface.co"

# scheduler configs as the real repos ship them (only the fields that shape sampling)
SD15_PNDM = {
    "_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
    "clip_sample": False,
}
SD15_DDIM = {
    "_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000, "set_alpha_to_one": False, "steps_offset": 1, "clip_sample": False,
}
SDXL_EULER = {
    "_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "interpolation_type": "linear",
    "prediction_type": "epsilon", "steps_offset": 1, "timestep_spacing": "leading", "use_karras_sigmas": False,
}
X2_EULER = {
    "_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "sample",
}
X4_DDIM = {
    "_class_name": "DDIMScheduler", "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000, "prediction_type": "v_prediction", "set_alpha_to_one": False, "steps_offset": 1,
    "clip_sample": False,
}
X4_LOWRES_DDPM = {
    "_class_name": "DDPMScheduler", "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000, "clip_sample": False,
}
KANDINSKY_DDPM = {
    "_class_name": "DDPMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear",
    "num_train_timesteps": 1000, "clip_sample": False, "prediction_type": "epsilon", "steps_offset": 1,
    "thresholding": False,
}
# The decoder's own file sets clip_sample true (a byte-for-byte copy pinned in github.com/kurtvalcorza/
# kandinsky-generation-pipeline, weights/kandinsky-2-2-decoder/scheduler/scheduler_config.json); the inpaint
# decoder's sets it false (github.com/kurtvalcorza/kandinsky-inpainting-pipeline, same path).
KANDINSKY_DECODER_DDPM = {**KANDINSKY_DDPM, "clip_sample": True}
KANDINSKY_PRIOR_UNCLIP = {
    "_class_name": "UnCLIPScheduler", "num_train_timesteps": 1000, "variance_type": "fixed_small_log",
    "prediction_type": "sample", "clip_sample": True, "clip_sample_range": 10.0,
}

_SD15_PARTS = {
    "vae": "AutoencoderKL", "text_encoder": "CLIPTextModel", "tokenizer": "CLIPTokenizer",
    "unet": "UNet2DConditionModel", "scheduler": "PNDMScheduler",
    "safety_checker": "StableDiffusionSafetyChecker", "feature_extractor": "CLIPImageProcessor",
}


def _sd15(source: str, **over) -> dict:
    row = {
        "pipeline": "StableDiffusionPipeline", "components": dict(_SD15_PARTS), "scheduler": SD15_PNDM,
        "latent_channels": 4, "vae_scale_factor": 8, "vae_scaling_factor": 0.18215,
        "unet_in": 4, "unet_out": 4, "default_size": 512, "tokenizer_max_length": 77,
        "source": f"{HUB}/{source}/blob/main/model_index.json",
    }
    row.update(over)
    return row


FACTS: dict[str, dict] = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": _sd15("stable-diffusion-v1-5/stable-diffusion-v1-5"),
    "ogkalu/Comic-Diffusion": _sd15("ogkalu/Comic-Diffusion"),
    "kohbanye/pixel-art-style": _sd15("kohbanye/pixel-art-style"),
    "nitrosocke/elden-ring-diffusion": _sd15("nitrosocke/elden-ring-diffusion"),
    "stable-diffusion-v1-5/stable-diffusion-inpainting": _sd15(
        "stable-diffusion-v1-5/stable-diffusion-inpainting",
        pipeline="StableDiffusionInpaintPipeline", unet_in=9, scheduler=SD15_DDIM,
        components={**_SD15_PARTS, "scheduler": "DDIMScheduler"},
    ),
    "stabilityai/stable-diffusion-xl-refiner-1.0": {
        "pipeline": "StableDiffusionXLImg2ImgPipeline",
        "components": {
            "vae": "AutoencoderKL", "text_encoder": None, "tokenizer": None,
            "text_encoder_2": "CLIPTextModelWithProjection", "tokenizer_2": "CLIPTokenizer",
            "unet": "UNet2DConditionModel", "scheduler": "EulerDiscreteScheduler",
        },
        "scheduler": SDXL_EULER, "latent_channels": 4, "vae_scale_factor": 8, "vae_scaling_factor": 0.13025,
        "unet_in": 4, "unet_out": 4, "default_size": 1024, "tokenizer_max_length": 77,
        "pipeline_config": {"requires_aesthetics_score": True, "force_zeros_for_empty_prompt": False},
        "source": f"{HUB}/stabilityai/stable-diffusion-xl-refiner-1.0/blob/main/model_index.json",
    },
    "diffusers/stable-diffusion-xl-1.0-inpainting-0.1": {
        "pipeline": "StableDiffusionXLInpaintPipeline",
        "components": {
            "vae": "AutoencoderKL", "text_encoder": "CLIPTextModel", "tokenizer": "CLIPTokenizer",
            "text_encoder_2": "CLIPTextModelWithProjection", "tokenizer_2": "CLIPTokenizer",
            "unet": "UNet2DConditionModel", "scheduler": "EulerDiscreteScheduler",
        },
        "scheduler": SDXL_EULER, "latent_channels": 4, "vae_scale_factor": 8, "vae_scaling_factor": 0.13025,
        "unet_in": 9, "unet_out": 4, "default_size": 1024, "tokenizer_max_length": 77,
        "pipeline_config": {"requires_aesthetics_score": False, "force_zeros_for_empty_prompt": True},
        "source": f"{HUB}/diffusers/stable-diffusion-xl-1.0-inpainting-0.1/blob/main/model_index.json",
    },
    "kandinsky-community/kandinsky-2-2-decoder": {
        "pipeline": "KandinskyV22Pipeline",
        "components": {"unet": "UNet2DConditionModel", "scheduler": "DDPMScheduler", "movq": "VQModel"},
        "scheduler": KANDINSKY_DECODER_DDPM, "latent_channels": 4, "vae_scale_factor": 8,
        "unet_in": 4, "unet_out": 8, "default_size": 512, "connected_prior": "kandinsky-community/kandinsky-2-2-prior",
        "source": f"{HUB}/kandinsky-community/kandinsky-2-2-decoder/blob/main/model_index.json",
    },
    "kandinsky-community/kandinsky-2-2-decoder-inpaint": {
        "pipeline": "KandinskyV22InpaintPipeline",
        "components": {"unet": "UNet2DConditionModel", "scheduler": "DDPMScheduler", "movq": "VQModel"},
        "scheduler": KANDINSKY_DDPM, "latent_channels": 4, "vae_scale_factor": 8,
        "unet_in": 9, "unet_out": 8, "default_size": 512, "connected_prior": "kandinsky-community/kandinsky-2-2-prior",
        "source": f"{HUB}/kandinsky-community/kandinsky-2-2-decoder-inpaint/blob/main/model_index.json",
    },
    "kandinsky-community/kandinsky-2-2-prior": {
        "pipeline": "KandinskyV22PriorPipeline",
        "components": {
            "prior": "PriorTransformer", "image_encoder": "CLIPVisionModelWithProjection",
            "text_encoder": "CLIPTextModelWithProjection", "tokenizer": "CLIPTokenizer",
            "scheduler": "UnCLIPScheduler", "image_processor": "CLIPImageProcessor",
        },
        "scheduler": KANDINSKY_PRIOR_UNCLIP, "tokenizer_max_length": 77,
        "source": f"{HUB}/kandinsky-community/kandinsky-2-2-prior/blob/main/model_index.json",
    },
    "stabilityai/sd-x2-latent-upscaler": {
        "pipeline": "StableDiffusionLatentUpscalePipeline",
        "components": {
            "vae": "AutoencoderKL", "text_encoder": "CLIPTextModel", "tokenizer": "CLIPTokenizer",
            "unet": "UNet2DConditionModel", "scheduler": "EulerDiscreteScheduler",
        },
        "scheduler": X2_EULER, "latent_channels": 4, "vae_scale_factor": 8, "vae_scaling_factor": 0.18215,
        # 4 noisy latents + 4 low-res latents in; 4 + 1 (a noise-level channel the pipeline drops) out
        "unet_in": 8, "unet_out": 5, "upscale": 2, "tokenizer_max_length": 77,
        "source": f"{HUB}/stabilityai/sd-x2-latent-upscaler/blob/main/model_index.json",
    },
    "stabilityai/stable-diffusion-x4-upscaler": {
        "pipeline": "StableDiffusionUpscalePipeline",
        "components": {
            "vae": "AutoencoderKL", "text_encoder": "CLIPTextModel", "tokenizer": "CLIPTokenizer",
            "unet": "UNet2DConditionModel", "scheduler": "DDIMScheduler", "low_res_scheduler": "DDPMScheduler",
        },
        "scheduler": X4_DDIM, "low_res_scheduler": X4_LOWRES_DDPM,
        # its VAE has three blocks, so it downsamples by 4, not 8
        "latent_channels": 4, "vae_scale_factor": 4, "vae_scaling_factor": 0.08333,
        "unet_in": 7, "unet_out": 4, "upscale": 4, "tokenizer_max_length": 77,
        "pipeline_config": {"max_noise_level": 350},
        "source": f"{HUB}/stabilityai/stable-diffusion-x4-upscaler/blob/main/model_index.json",
    },
    "lllyasviel/control_v11f1p_sd15_depth": {
        "model": "ControlNetModel", "conditioning_channels": 3, "cross_attention_dim_matches":
        "stable-diffusion-v1-5/stable-diffusion-v1-5", "conditioning_downscale": 8,
        "source": f"{HUB}/lllyasviel/control_v11f1p_sd15_depth/blob/main/config.json",
    },
    "madebyollin/taesd": {
        "model": "AutoencoderTiny", "latent_channels": 4, "scaling_factor": 1.0, "vae_scale_factor": 8,
        "source": f"{HUB}/madebyollin/taesd/blob/main/config.json",
    },
    "madebyollin/taesdxl": {
        "model": "AutoencoderTiny", "latent_channels": 4, "scaling_factor": 1.0, "vae_scale_factor": 8,
        "source": f"{HUB}/madebyollin/taesdxl/blob/main/config.json",
    },
    "depth-anything/Depth-Anything-V2-Small-hf": {
        "model": "DepthAnythingForDepthEstimation", "image_processor": "DPTImageProcessor",
        "patch_size": 14, "input_size": 518,
        "source": f"{HUB}/depth-anything/Depth-Anything-V2-Small-hf/blob/main/config.json",
    },
}
