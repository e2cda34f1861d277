"""The electronic inspection opinion (电子踏勘意见书): content, PDF, signature, verification."""
