"""rtl/link"""
