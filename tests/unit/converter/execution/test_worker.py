"""When a worker retires its process: the thresholds, without starting one."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
import numpy as np
import pytest
from tests.support import REPO
from tests.support.models import Models
from tests.support.project import write_files
import converter
from converter.execution.executor import ExecutorUnavailable
from converter.service import client, rendezvous
from converter.service.client import ServiceConfig
from converter.service.rendezvous import PeerCredentials, Place, ServiceError
from converter.service.server import Pool, Service, Status
from converter.spec import Options, Request


def test_a_worker_retires_past_its_memory_threshold() -> None:
    from converter.execution.worker import Worker

    worker = Worker(recycle_mb=1500, memory_limit_mb=10000)
    assert not worker._worn_out(1400) and worker._worn_out(1600)
    assert Worker(memory_limit_mb=1000)._worn_out(800)  # 75% of the ceiling, as before
