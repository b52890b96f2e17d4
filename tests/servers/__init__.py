"""Real local AWS implementations (moto server, kinesalite, dynalite) on 127.0.0.1 for tests."""
