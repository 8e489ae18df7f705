"""The network: U-Net, transforms, loss, training, model files and prediction."""
