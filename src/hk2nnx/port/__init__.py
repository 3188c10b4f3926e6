"""port"""
