import sys

from byte_platform.service import serve

from byte_executions.settings import ExecutionsSettings

if sys.argv[1:2] == ["rebuild-activity"]:
    from byte_executions.rebuild import main

    main(sys.argv[2:])
else:
    serve("byte_executions.main:create_app", ExecutionsSettings())
