"""The demo province (``benhan demo``): Cà Mau's facilities, staff, demo logins and synthetic patients.

Public: :func:`benhan.demo.load.load_demo`, :data:`benhan.demo.logins.DEMO_LOGINS`,
:func:`benhan.demo.logins.is_demo_login`, :func:`benhan.demo.province.build_province`.
"""
