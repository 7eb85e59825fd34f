"""Deep features: a 3D convolutional autoencoder trained on the training cohort; its latent vector is the
DL feature set."""
