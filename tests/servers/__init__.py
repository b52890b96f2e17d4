"""Real local AWS implementations (moto server, kinesalite) started on 127.0.0.1 for tests."""
