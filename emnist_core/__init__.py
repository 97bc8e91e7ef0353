"""EMNIST Sketch Lab core: data, label maps, preprocessing, models, training, evaluation, prediction.

Never imports gradio: the app (``app.py``) is a thin UI over this package.

The public API below is what the app and the CLI use. Importing ``emnist_core`` stays light: each
name is looked up in its submodule on first access (PEP 562), so Keras starts only when a name that
needs it (``train``, ``load_model``, ``Predictor`` ...) is used. Everything else stays reachable
through the submodules (``emnist_core.preprocess.preprocess``, ``emnist_core.download.download``):
those two functions share their module's name, so they are not exported here, where the module and
the function would shadow each other depending on import order.
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN notes, CPU feature lists) hides our own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# public name -> submodule that defines it
_EXPORTS = {
    # datasets and label maps
    "DATASETS": "datasets",
    "DataNotFoundError": "datasets",
    "load_dataset": "datasets",
    "load_files": "datasets",
    "SPLITS": "labels",
    "LabelMap": "labels",
    "label_map": "labels",
    "lookalike_note": "labels",
    "to_bymerge": "labels",
    # input images
    "ImageInputError": "preprocess",
    "load_image": "preprocess",
    # architectures (plain data; build_model imports Keras)
    "REGISTRY": "registry",
    "ModelSpec": "registry",
    "model_spec": "registry",
    "build_model": "models",
    # training
    "TrainConfig": "train_config",
    "TrainResult": "training",
    "TrainingCancelled": "train_config",
    "train": "training",
    "train_and_save": "training",
    # evaluation
    "evaluate_arrays": "evaluation",
    # saved models: names, files, loading (Keras only when a model is loaded or saved)
    "ALIASES": "store",
    "SHIPPED": "store",
    "ModelFileError": "store",
    "card_path": "store",
    "list_models": "store",
    "load_card": "store",
    "load_model": "store",
    "load_report": "store",
    "remove_model": "store",
    "report_path": "store",
    "resolve_model_path": "store",
    "save_model": "store",
    "save_report": "store",
    # prediction
    "Predictor": "predictor",
    "load_served": "serving",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
