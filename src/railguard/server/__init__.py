"""railguard.server"""
