"""What the tests share: the local fake servers (as pytest plugins), and helpers that build engines and studies."""
