"""The table of known errors: which library error, confirmed how, means what, and how to fix it (every chapter).

helpers.notes walks it for each error; the first rule whose classes, message and frames match gives the note.
"""

from __future__ import annotations

from helpers import (
    causes,
    causes_code,
    causes_files,
    causes_habits,
    causes_keywords,
    causes_loading,
    causes_names,
    causes_objects,
    causes_parts,
    causes_slips,
    causes_values,
)

# (exception class names, a pattern its message matches, what it means, how to fix it[, where]); first match wins.
# `where` (optional) must match the file or function of a traceback frame: a bare IndexError means a bad step
# count only when a scheduler raised it, not when the learner's own list was too short.
# Where the message's words fit several causes, "what it means" is a function of helpers.causes instead: it reads
# the failed call's facts (helpers.callfacts) and gives the note, or None when they do not confirm a cause.
RULES = [
    (("ZeroDivisionError",), r"", "a step count of 0 reached the scheduler, which divides by it.",
     "pass num_inference_steps=1 or more (20–50 is typical); for img2img also num_inference_steps × strength ≥ 1.",
     r"schedul"),
    (("IndexError",), r"out of bounds|out of range", causes_values.scheduler_index, None, r"schedul"),
    (("ValueError", "OverflowError"), r"cannot convert float (NaN|infinity) to integer", causes_values.not_finite,
     None),
    (("OutOfMemoryError", "RuntimeError"),
     r"out of memory|can't allocate memory|not enough memory|DefaultCPUAllocator|MPS backend out of memory",
     "the device ran out of memory for this call.",
     "use a smaller picture (height/width), num_images_per_prompt=1 or fewer steps; free other pipelines with "
     "`del pipeline` then helpers.device.free_memory(); or run with fit_to_machine(..., offload='always')."),
    (("AssertionError", "RuntimeError", "ValueError"),
     r"Torch not compiled with CUDA|no CUDA GPUs are available|Found no NVIDIA driver|requires accelerator|"
     r"CUDA is not available|xformers.*(cuda|gpu)|memory_efficient_attention|Cannot get CUDA generator|ATen_cuda",
     causes.no_cuda, None),
    (("ValueError",), r"variant=.*no such modeling files|variant.*not available", causes_loading.variant_files, None),
    (("ValueError",), r"you must specify a `weight_name`", causes_loading.lora_path, None),
    (("SafetensorError", "OSError", "RuntimeError", "EOFError", "UnpicklingError"),
     r"deserializ|HeaderTooLarge|incomplete metadata|MetadataIncompleteBuffer|unexpected end|Ran out of input|"
     r"PytorchStreamReader failed|invalid load key|(?<!image )file is truncated|Unable to load weights",
     causes_files.damaged_weights, None),
    (("EntryNotFoundError", "OSError", "EnvironmentError", "ValueError"),
     r"does not appear to have a file|no file named|model_index\.json", causes_loading.missing_file, None),
    (("OfflineModeIsEnabled", "ConnectionError", "HfHubHTTPError", "OSError"),
     r"/api/(repos/create|(models|datasets|spaces)/\S+/(commit|preupload|upload))", causes_slips.upload_offline, None),
    (("LocalEntryNotFoundError", "OSError", "EnvironmentError"),
     r"connect|offline|cannot find the requested files in the disk cache|couldn't connect|outgoing traffic|"
     r"not fully cached|is incomplete", causes_habits.community_code, None),  # else causes_loading.not_downloaded
    (("OSError", "RepositoryNotFoundError", "HFValidationError", "EnvironmentError"),
     r"not a valid model identifier|Repository Not Found|Repo id must|repo_id", causes_loading.not_a_repo, None),
    (("RuntimeError", "TypeError"),
     r"same device|device type for generator|cuda\.\w+Tensor\) and \w+ type \(torch\.(?!cuda)|"
     r"\(torch\.(?!cuda)\w+Tensor\) and \w+ type \(torch\.cuda",
     "two things live on different devices (CPU and GPU): the generator, an input tensor, or part of the pipeline.",
     "make the generator with helpers.device.make_generator(seed, device), and move the pipeline once with "
     "fit_to_machine(pipeline, device)."),
    (("TypeError", "ValueError"), r"negative_prompt.{0,20} same type", causes.prompt_types, None),
    (("ValueError",), r"PEFT backend is required", causes_parts.peft_missing, None),
    (("ValueError",), r"expected .+, but only .+ were passed", causes_parts.parts_missing, None),
    (("AttributeError",), r"'str' object has no attribute '__module__'", causes_parts.part_named_by_id, None),
    (("RuntimeError", "TypeError"),
     r"Half|float16|Double|expected scalar type|should be the same|must have the same dtype", causes.dtype_mismatch,
     None),
    (("RuntimeError",), r"size of tensor a \(\d+\) must match the size of tensor b \(\d+\) at non-singleton "
     r"dimension 1", causes_habits.and_rows, None),  # else causes.sizes_dont_fit
    (("RuntimeError", "ValueError"),
     r"size of tensor a|Sizes of tensors must match|shapes cannot be multiplied|must match the size|"
     r"Incorrect configuration settings|to have \d+ channels", causes.sizes_dont_fit, None),
    (("ValueError",), r"have to be divisible by", causes_values.divisible_by, None),
    (("AttributeError",), r"'list' object has no attribute '(save|resize|convert|show|crop|size|mode|width)'",
     causes_values.list_not_picture, None),
    (("TypeError", "AttributeError", "ValueError"),
     r"color must be int|cannot determine region size|'(Tensor|ndarray)' object has no attribute",
     causes_code.pil_got_tensor, None, r"PIL.Image\.py (composite|paste|blend|alpha_composite)$"),
    (("AttributeError",),
     r"'(Tensor|(numpy\.)?ndarray)' object has no attribute '(save|resize|convert|size|show|crop|mode)'",
     causes_values.array_not_picture, None),
    (("AssertionError",), r"", causes_values.grid_count, None, r"make_image_grid"),
    (("OSError",), r"image file is truncated",
     "this picture file is cut short: a download or copy that stopped before the end.",
     "download or copy it again; to use the part that is there, set PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True "
     "before opening it."),
    (("UnidentifiedImageError",), r"", causes_files.unreadable_picture, None),
    (("FileNotFoundError",), r"", causes.missing_folder, None),
    (("AttributeError",), r"'tuple' object has no attribute 'images'", causes_values.tuple_output, None),
    (("TypeError",), r"from_pretrained\(\) takes \d positional arguments? but \d were given",
     "from_pretrained takes only the repo id by position; everything after it goes by name.",
     "name each one (dtype=torch.float16, subfolder='unet'), and spread load_args' dict with two stars: "
     "from_pretrained(repo_id, **load_args(repo_id))."),
    (("ValueError", "KeyError"), r"unknown file extension",
     "PIL picks the file format from the name's extension, and this name has none it knows.",
     "end the name with .png (or .jpg): image.save('result.png')."),
    (("TypeError",), r"got multiple values for keyword argument '(?!variant|use_safetensors)\w+'",
     causes_objects.given_twice, None),
    (("TypeError",), r"'int' object is not iterable",
     "resize takes the new size as a pair (width, height), not one number.",
     "image.resize((512, 512)), or keep the shape: image.resize((512, round(512 * image.height / image.width))).",
     r"resize"),
    (("TypeError",), r"'int' object is not (iterable|subscriptable)",
     "PIL's ImageOps.fit, pad and contain take the size as a pair (width, height), not one number.",
     "ImageOps.fit(picture, (512, 512)) (the same pair for pad and contain).", r"ImageOps\.py (fit|pad|contain)$"),
    (("TypeError",), r"'(float|int)' object is not iterable", causes_objects.one_value_in_brackets, None),
    (("AttributeError",), r"module 'PIL\.Image' has no attribute '(ANTIALIAS|LINEAR|CUBIC)'",
     "Pillow 10 removed Image.ANTIALIAS, Image.LINEAR and Image.CUBIC; older tutorials still use them.",
     "use Image.LANCZOS for ANTIALIAS (Image.BILINEAR for LINEAR, Image.BICUBIC for CUBIC), e.g. "
     "picture.resize((512, 512), Image.LANCZOS)."),
    (("ValueError",), r"assignment destination is read-only",
     "this numpy array is read-only: np.asarray(picture) shares the PIL picture's memory, which numpy may not "
     "change (np.broadcast_to and some library outputs are read-only too).",
     "make a copy you may change: array = np.array(picture) (or array = array.copy()), then edit it."),
    (("AttributeError",), r"'Tensor' object has no attribute '__array_interface__'",
     "Image.fromarray takes a numpy array, and this is a torch tensor; output_type='pt' gives (batch, 3, H, W) "
     "floats in 0–1.",
     "ask the pipeline for pictures, output_type='pil' (the default); or convert one: "
     "Image.fromarray((t[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()).", r"fromarray"),
    (("OSError",), r"not supported for mode (RGBA|LA|P|1|I|F)",
     "ImageOps.invert works on 'L' and 'RGB' pictures, and this one has another mode (a mask saved with "
     "transparency is RGBA).",
     "a mask: invert it as a grey picture, ImageOps.invert(mask.convert('L')); a colour picture: "
     "ImageOps.invert(picture.convert('RGB')).", r"ImageOps\.py invert$"),
    (("TypeError",), r"'NoneType' object is not subscriptable", causes_values.none_subscripted, None),
    (("RuntimeError", "TypeError"), r"Could not infer dtype of (\w*Image\w*)",
     "torch.tensor cannot read a PIL picture directly.",
     "go through numpy: torch.from_numpy(np.array(picture)) gives (height, width, 3) whole numbers 0–255; "
     "pipeline.image_processor.preprocess(picture) gives the (1, 3, height, width) floats in [-1, 1] a VAE takes."),
    (("IndexError",), r"tuple index out of range",
     "PIL's crop takes a box of four numbers, (left, top, right, bottom).",
     "picture.crop((0, 0, 128, 128)) cuts the top-left 128×128 square.", r"PIL.Image\.py crop$"),
    (("KeyError",), r"", causes_slips.save_format, None, r"PIL.Image\.py save"),
    (("KeyError",), r"Unknown task .+, available tasks are", causes_slips.task_not_prompt, None, r"transformers"),
    (("KeyError",), r"", causes_values.callback_key, None, r"diffusers[/\\]pipelines"),
    (("KeyError",), r"", causes_objects.missing_key, None),
    (("AttributeError",), r"'Kandinsky\w*Pipeline' object has no attribute '(tokenizer|text_encoder)'",
     "Kandinsky 2.2 has no tokenizer or text_encoder of its own: its text goes through the prior's CLIP "
     "(pipeline.prior_tokenizer, pipeline.prior_text_encoder), which makes image embeddings, not the prompt_embeds "
     "compel builds.",
     "use compel with an SD 1.5 or SDXL pipeline (chapter 4); with Kandinsky, change the prompt's words instead."),
    (("ValueError",), r"does not support custom (timestep|sigmas) schedules",
     "this scheduler's set_timesteps takes only a number of steps, not a list of timesteps= or sigmas=.",
     "pass num_inference_steps= instead, or swap in one that takes a list: pipeline.scheduler = "
     "EulerDiscreteScheduler.from_config(pipeline.scheduler.config), whose set_timesteps takes timesteps= and sigmas= "
     "(DPMSolverMultistepScheduler takes timesteps= only)."),
    (("TypeError",), r"from_pretrained\(\) got multiple values for keyword argument '(variant|use_safetensors)'",
     "load_args(repo_id) already passes variant= and use_safetensors= (read from the repo's files), and the call "
     "gives one of them again.",
     "drop your own variant= or use_safetensors=: **load_args(repo_id) has chosen them, and says which above."),
    (("NotImplementedError", "ValueError"), r"not supported\. Supported strategies are",
     "device_map= spreads one model's layers over several devices; it does not pick the device to run on.",
     "leave device_map= out, and move the pipeline once with fit_to_machine(pipeline, pick_device())."),
    (("RuntimeError",), r"not linked with support for mps devices|MPS backend is not available|mps.*not available",
     "'mps' is Apple's GPU on a Mac with Apple silicon, and this machine has none.",
     "device = pick_device() (helpers.device) picks the one this machine has; pass that."),
    (("RuntimeError",), r"device type at start of device string: (gpu|GPU|nvidia|cuda0)",
     "torch names devices 'cuda' (NVIDIA), 'mps' (Apple) and 'cpu'; 'gpu' is not one of them.",
     "device = pick_device() (helpers.device) picks the one this machine has; pass that."),
    (("TypeError",), r"Cannot handle this data type: \(1, 1, \d\), <f[48]", causes_values.float_picture,
     None),
    (("OSError",), r"cannot write mode|cannot save mode", causes_values.mode_not_saved, None),
    (("ValueError",), r"images do not match|image has wrong mode|bad transparency mask", causes_code.pil_pictures,
     None),
    (("AttributeError",), r"'dict' object has no attribute 'chunks'",
     "pnginfo= takes PIL's PngInfo object, not a dict: PIL reads its .chunks to write the text into the file.",
     "from PIL.PngImagePlugin import PngInfo; info = PngInfo(); info.add_text('prompt', prompt); "
     "image.save('out.png', pnginfo=info).", r"PngImagePlugin"),
    (("TypeError",), r"PriorTransformer\.forward\(\) missing",
     "a PriorTransformer, the prior's model, was called with text; it takes tensors. Text goes to the prior's "
     "pipeline.",
     "in a combined Kandinsky pipeline that is pipeline.prior_pipe(prompt); a KandinskyV22PriorPipeline is called "
     "itself: prior(prompt). Either returns .image_embeds and .negative_image_embeds (chapter 3)."),
    (("DecompressionBombError",), r"",
     "the picture has so many pixels that PIL refuses to open it.",
     "downscale it in an image editor, or load it with helpers.images.load_image_file, which says the size."),
    (("NameError",), r"", causes_names.name_not_defined, None),
    (("RuntimeError",), r"size mismatch for [\w.]*lora_[AB]",
     "the LoRA's layers have other sizes than this pipeline's: it was trained for another model family (an SDXL "
     "LoRA in SD 1.5, or the reverse), whose attention layers are wider.",
     "load a LoRA made for this pipeline's base model (its model card names it, e.g. 'SD 1.5' or 'SDXL'), or "
     "load this LoRA into a pipeline of its own family."),
    (("RuntimeError",), r"Can't call numpy\(\) on Tensor that requires grad",
     "the tensor still records how it was computed, for training: the model ran outside torch.no_grad() "
     "(pipeline calls turn that on themselves; your own vae.decode or unet call does not).",
     "run the model inside `with torch.no_grad():` (or put @torch.no_grad() over your function), or take "
     "pixels.detach() before turning it into pictures."),
    (("ModuleNotFoundError", "ImportError"), r"xformers",
     "xformers is an optional attention library for CUDA GPUs, and it is not installed here.",
     "on a CPU or a Mac skip it: fit_to_machine(pipeline, device) picks PyTorch's own attention (attention='auto'); "
     "on a CUDA GPU, `%pip install -r requirements-gpu.txt` and restart the kernel."),
    (("AttributeError",), r"'(NoneType|Tensor|tuple|list)' object has no attribute '(pop|get|keys|items)'",
     causes.callback_return, None),
    (("AttributeError",), r"'(\w*PipelineOutput|ImagePipelineOutput)' object has no attribute "
     r"'(save|resize|convert|show|crop|size|mode)'",
     "this is the pipeline's whole output; the pictures are in its .images list.",
     "take one picture from it: output.images[0].save('out.png')."),
    (("AttributeError",), r"'Image' object has no attribute '(shape|dim|to|ndim)'",
     "the VAE works on tensors in [-1, 1], shaped (1, 3, H, W), and it was given a PIL picture.",
     "turn the picture into that tensor first: pixels = pipeline.image_processor.preprocess(picture), then "
     "pipeline.vae.encode(pixels.to(pipeline.vae.device, pipeline.vae.dtype)).", r"encode|_encode|autoencoder"),
    (("ValueError",), r"Input for postprocessing is in incorrect format: <class '[\w.]*DecoderOutput'>",
     "vae.decode returns a DecoderOutput, and the picture tensor is its .sample.",
     "decoded = pipeline.vae.decode(latents / pipeline.vae.config.scaling_factor).sample, then "
     "pipeline.image_processor.postprocess(decoded)."),
    (("RuntimeError",), r"permute\(.*number of dimensions in the tensor input does not match",
     causes.unbatched_picture, None),
    (("AttributeError",), r"'\w+' object has no attribute '(tokenizer_2|text_encoder_2)'", causes.one_text_encoder,
     None),
    (("AttributeError",), r"'(Kandinsky\w*)' object has no attribute '(vae|enable_vae_tiling|enable_vae_slicing)'",
     causes_objects.kandinsky_autoencoder, None),
    (("ValueError",), r"Unrecognized model in \S+\. Should have a `?model_type`? key", causes_parts.not_transformers,
     None),
    (("TypeError",), r"__init__\(\) got an unexpected keyword argument 'controlnet'", causes_values.controlnet_kwarg,
     None),
    (("ValueError",), r"not enough values to unpack \(expected 2, got 1\)", causes.compel_pair, None),
    (("ValueError",), r"too many values to unpack \(expected [1-3]\)", causes_code.unpacked_prompt_tensors, None),
    (("TypeError",), r"missing 1 required positional argument", causes_code.hook_without_kwargs, None,
     r"torch.nn.modules.module\.py inner$"),
    (("ValueError",), r"Incorrect image source", causes.image_source, None),
    (("TypeError",), r"list indices must be integers or slices, not str", causes.results_list, None),
    (("ValueError",), r"Invalid `pretrained_model_name_or_path` provided", causes_parts.single_file_repo, None),
    (("ValueError",), r"AutoPipeline can't find a pipeline linked to", causes_parts.auto_pipeline_task, None),
    (("TypeError",), r"a bytes-like object is required, not 'Image'",
     "Image.fromarray makes a picture from a numpy array, and it was given a PIL picture already.",
     "use the picture as it is (picture.copy() for a copy of your own); for an array of it: np.asarray(picture).",
     r"fromarray|frombuffer"),
    (("ParsingException",), r"mismatched (prompts|parts)/weights counts", causes_code.weight_counts, None),
    (("ModuleNotFoundError", "ImportError"),
     r"controlnet_aux|compel|helpers|diffusers|transformers|"
     r"'(cv2|matplotlib|peft|accelerate|torchvision|skimage|sklearn|pillow_heif|safetensors|ipycanvas|tools)[.']",
     causes_files.missing_module, None),
    (("ValueError",), r"Unknown resampling filter", causes_slips.resize_two_numbers, None, r"PIL.Image\.py resize"),
    (("TypeError",), r"Cannot handle this data type: \(1, 1, \d+\)", causes_slips.channels_first, None,
     r"fromarray"),
    (("TypeError",), r"'type' object does not support the (asynchronous )?context manager protocol",
     causes_slips.context_without_call, None),
    (("OSError", "EnvironmentError"), r"is not a valid JSON file", causes_slips.weights_file_not_folder, None),
    (("ValueError",), r"Loaded embeddings are of incorrect shape", causes_slips.embedding_width, None),
    (("AttributeError",), r"Pipeline' object has no attribute '(load_lora_weights|load_textual_inversion|fuse_lora|"
     r"set_adapters|unload_lora_weights|load_ip_adapter)'", causes_slips.no_loader, None),
    (("TypeError",), r"'Image' object is not iterable", causes_slips.list_plus_picture, None),
    (("TypeError",), r"Invalid shape \(\d+, \d+, \d+\) for image data", causes_slips.imshow_channels_first, None),
    (("TypeError",), r"Scheduler\.__init__\(\) got an unexpected keyword argument", causes_slips.scheduler_kwargs,
     None),
    (("AttributeError",), r"'(int|float)' object has no attribute 'to'", causes_slips.add_noise_number, None),
    (("AttributeError",), r"'tuple' object has no attribute '(save|show|resize|convert|size|crop)'",
     causes_slips.tuple_saved, None),
    (("SyntaxError",), r"'unicodeescape' codec can't decode bytes.*\\[UuNx]",
     "a backslash in a normal string starts an escape: in a Windows path such as \"C:\\Users\\...\", \\U "
     "begins a Unicode character code, which the letters after it are not.",
     "write the path as a raw string, r\"C:\\Users\\me\\cat.png\" (an r before the quotes), or with forward "
     "slashes, \"C:/Users/me/cat.png\", which Python on Windows accepts too."),
    (("TypeError",), r"'tuple' object is not callable", causes_habits.size_called, None),
    (("TypeError",), r"'(Image|\w+ImageFile)' object is not callable", causes_habits.picture_called, None),
    (("AttributeError",), r"'Image' object has no attribute '(shape|ndim|dtype)'", causes_habits.picture_shape, None),
    (("AttributeError",), r"property '\w+' of '\w+Pipeline' object has no setter", causes_habits.read_only_setting,
     None),
    (("UnpicklingError", "RuntimeError"), r"Unsupported global: GLOBAL diffusers\.", causes_habits.pickled_pipeline,
     None),
    (("TypeError",), r"Cannot handle this data type: \(1, 1\), ", causes_habits.integer_array_picture, None),
    (("TypeError",), r"Kandinsky\w*Pipeline\.__init__\(\) got an unexpected keyword argument 'prior_",
     causes_habits.combined_components, None),
    (("ValueError", "AttributeError"), r"requires `self\.tokenizer`|'NoneType' object has no attribute",
     causes_habits.second_tokenizer_only, None),
    (("SyntaxError",), r"positional argument follows keyword argument", causes_habits.decimal_comma_call, None),
    (("ValueError",), r"^bad filter size$", causes_habits.even_rank_filter, None),
    (("ValueError",), r"Sequence length must be less than max_position_embeddings", causes_habits.tokenizer_length,
     None),
    (("ValueError",), r"in the correct format expected by Custom Diffusion", causes_habits.lora_by_attn_procs, None),
    (("TypeError",), r"\w+\(\) takes 0 positional arguments but 1 was given", causes_habits.dict_by_position, None),
    # last: each reads the failing line or the helper named, and gives no note when they do not confirm it
    (("IndexError",), r"index out of range", causes_values.index_of_pictures, None),
    (("AttributeError",), r"'\w*Output' object has no attribute '(\w+)'", causes_values.output_field, None),
    (("TypeError",), r"(\w+)\(\) got an unexpected keyword argument '(\w+)'", causes_keywords.helper_keyword, None),
    (("AttributeError",), r"Pipeline' object has no attribute", causes_objects.module_habit, None),
    (("TypeError",), r"'bool' object is not iterable", causes_objects.safety_checker_flags, None),
    (("AttributeError",), r"object has no attribute", causes_objects.attribute_typo, None),
]
