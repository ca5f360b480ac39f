"""rtl/encoders"""
