"""golden/link"""
