"""railguard.policy"""
