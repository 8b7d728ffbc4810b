"""railguard.store"""
