"""golden/encoders"""
