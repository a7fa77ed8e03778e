"""Repeatable jobs: timetables of the modules' schedules and the scheduler adding their slots (ADR 0020)."""

from application.scheduling.scheduler import ScheduledQueue, Scheduler, SchedulerCounts
from application.scheduling.timetable import Timetable, compile_schedule

__all__ = ["ScheduledQueue", "Scheduler", "SchedulerCounts", "Timetable", "compile_schedule"]
