"""convert/rules"""
