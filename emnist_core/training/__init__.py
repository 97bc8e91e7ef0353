"""Training: the settings of a job, augmentation and the one training path (``train``, ``train_and_save``)."""
