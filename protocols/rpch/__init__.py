"""MS-RPCH and DCE/RPC: connection-oriented PDUs (``dcerpc``), the legacy EMSMDB call stubs (``emsmdb``)."""
