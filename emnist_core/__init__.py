"""EMNIST Sketch Lab core: data, label maps, preprocessing, models, training, evaluation, prediction.

Never imports gradio: the app (``app.py``) is a thin UI over this package.

The public API below is what the app and the CLI use. Importing ``emnist_core`` stays light: each
name is looked up in its submodule on first access (PEP 562), so Keras starts only when a name that
needs it (``train``, ``load_model``, ``Predictor`` ...) is used. Everything else stays reachable
through the submodules (``emnist_core.data.preprocess.preprocess``, ``emnist_core.data.download.download``):
those two functions share their module's name, so they are not exported here, where the module and
the function would shadow each other depending on import order.
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN notes, CPU feature lists) hides our own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# public name -> submodule that defines it
_EXPORTS = {
    # datasets and label maps
    "DATASETS": "data.datasets",
    "DataNotFoundError": "data.datasets",
    "load_dataset": "data.datasets",
    "load_files": "data.datasets",
    "SPLITS": "data.labels",
    "LabelMap": "data.labels",
    "label_map": "data.labels",
    "lookalike_note": "data.labels",
    "to_bymerge": "data.labels",
    # input images
    "ImageInputError": "data.preprocess",
    "load_image": "data.preprocess",
    # architectures (plain data; build_model imports Keras)
    "REGISTRY": "models.registry",
    "ModelSpec": "models.registry",
    "model_spec": "models.registry",
    "build_model": "models.build",
    # training
    "TrainConfig": "training.config",
    "TrainResult": "training.train",
    "TrainingCancelled": "training.config",
    "train": "training.train",
    "train_and_save": "training.train",
    # evaluation
    "evaluate_arrays": "models.evaluation",
    # saved models: names, files, loading (Keras only when a model is loaded or saved)
    "ALIASES": "models.store",
    "SHIPPED": "models.store",
    "ModelFileError": "models.store",
    "ModelCard": "models.card",
    "card_path": "models.store",
    "list_models": "models.store",
    "load_card": "models.store",
    "load_model": "models.store",
    "load_report": "models.store",
    "remove_model": "models.store",
    "report_path": "models.store",
    "resolve_model_path": "models.store",
    "save_card": "models.store",
    "save_model": "models.store",
    "save_report": "models.store",
    # prediction
    "Predictor": "serving.predictor",
    "load_served": "serving.export",
    # the server's state
    "Lab": "lab.state",
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
