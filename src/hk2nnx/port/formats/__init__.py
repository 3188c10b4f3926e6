"""port/formats"""
