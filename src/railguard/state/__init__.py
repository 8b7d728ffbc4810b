"""railguard.state"""
