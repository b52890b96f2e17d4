"""Trip files are told apart by their header: each TLC era, green, Kaggle; others are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxi_stream.core.errors import SourceError
from taxi_stream.sources.replay.layouts import detect
from taxi_stream.sources.replay.replayer import open_files

YELLOW_2009 = (
    "vendor_name,Trip_Pickup_DateTime,Trip_Dropoff_DateTime,Passenger_Count,Trip_Distance,"
    "Start_Lon,Start_Lat,Rate_Code,store_and_forward,End_Lon,End_Lat,Payment_Type,Fare_Amt,"
    "surcharge,mta_tax,Tip_Amt,Tolls_Amt,Total_Amt"
)
YELLOW_2010 = (
    "vendor_id,pickup_datetime,dropoff_datetime,passenger_count,trip_distance,pickup_longitude,"
    "pickup_latitude,rate_code,store_and_fwd_flag,dropoff_longitude,dropoff_latitude,"
    "payment_type,fare_amount,surcharge,mta_tax,tip_amount,tolls_amount,total_amount"
)
YELLOW_2015 = (
    "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,"
    "pickup_longitude,pickup_latitude,RateCodeID,store_and_fwd_flag,dropoff_longitude,"
    "dropoff_latitude,payment_type,fare_amount,extra,mta_tax,tip_amount,tolls_amount,"
    "improvement_surcharge,total_amount"
)
YELLOW_2025 = (
    "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,"
    "RatecodeID,store_and_fwd_flag,PULocationID,DOLocationID,payment_type,fare_amount,extra,"
    "mta_tax,tip_amount,tolls_amount,improvement_surcharge,total_amount,congestion_surcharge,"
    "Airport_fee,cbd_congestion_fee"
)
GREEN_2014 = (
    "VendorID,lpep_pickup_datetime,Lpep_dropoff_datetime,Store_and_fwd_flag,RateCodeID,"
    "Pickup_longitude,Pickup_latitude,Dropoff_longitude,Dropoff_latitude,Passenger_count,"
    "Trip_distance,Fare_amount,Extra,MTA_tax,Tip_amount,Tolls_amount,Ehail_fee,Total_amount,"
    "Payment_type,Trip_type "
)
KAGGLE = (
    "id,vendor_id,pickup_datetime,dropoff_datetime,passenger_count,pickup_longitude,"
    "pickup_latitude,dropoff_longitude,dropoff_latitude,store_and_fwd_flag,trip_duration"
)


@pytest.mark.parametrize(
    ("header", "layout", "expected"),
    [
        (YELLOW_2009, "yellow-2009", {"vendor": "vendor_name", "pickup_lon": "Start_Lon",
                                      "flag": "store_and_forward", "fare": "Fare_Amt",
                                      "total": "Total_Amt", "pickup": "Trip_Pickup_DateTime"}),
        (YELLOW_2010, "yellow-2010", {"vendor": "vendor_id", "pickup": "pickup_datetime",
                                      "distance": "trip_distance", "tip": "tip_amount"}),
        (YELLOW_2015, "yellow", {"pickup_lat": "pickup_latitude",
                                 "dropoff_lon": "dropoff_longitude",
                                 "passengers": "passenger_count"}),
        (YELLOW_2025, "yellow", {"pu_zone": "PULocationID", "do_zone": "DOLocationID",
                                 "total": "total_amount"}),
        (GREEN_2014, "green", {"dropoff": "Lpep_dropoff_datetime", "distance": "Trip_distance",
                               "passengers": "Passenger_count", "flag": "Store_and_fwd_flag"}),
        (KAGGLE, "kaggle", {"duration": "trip_duration", "dropoff": "dropoff_datetime",
                            "pickup_lat": "pickup_latitude"}),
    ],
)  # fmt: skip
def test_each_era_is_told_from_its_header(
    header: str, layout: str, expected: dict[str, str]
) -> None:
    """The layout follows from the column names, in any case; columns keep the file's spelling."""
    columns = detect(header.split(","), "f.csv")
    assert columns.layout.name == layout
    assert expected.items() <= dict(columns.names).items()


def test_a_2017_file_has_zones_and_no_coordinates() -> None:
    """Without coordinate columns, no coordinate is mapped; the zones are."""
    columns = detect(YELLOW_2025.split(","), "f.parquet")
    assert columns.get("pickup_lon") is None
    assert columns.get("pu_zone") == "PULocationID"
    assert columns.get("dropoff") == "tpep_dropoff_datetime"


def test_an_unknown_header_is_one_line_naming_what_was_expected() -> None:
    """A for-hire-vehicle file is refused, with every layout and its required columns listed."""
    header = ["dispatching_base_num", "pickup_datetime", "dropOff_datetime", "PUlocationID"]
    with pytest.raises(SourceError) as caught:
        detect(header, "fhv_tripdata_2024-01.parquet")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("fhv_tripdata_2024-01.parquet matches no known trip layout")
    assert "dispatching_base_num" in message
    for needed in ("tpep_pickup_datetime", "lpep_pickup_datetime", "trip_pickup_datetime",
                   "trip_duration", "trip_distance"):  # fmt: skip
        assert needed in message


def test_a_forced_format_must_fit_the_file() -> None:
    """--format kaggle on a TLC file names the columns it lacks; an unknown name is refused."""
    with pytest.raises(SourceError, match=r"no column vendor_id, pickup_datetime, trip_duration$"):
        detect(YELLOW_2015.split(","), "y.csv", "kaggle")
    with pytest.raises(SourceError, match="unknown format 'fhv'"):
        detect(YELLOW_2015.split(","), "y.csv", "fhv")
    assert detect(YELLOW_2010.split(","), "y.csv", "yellow-2010").layout.name == "yellow-2010"


def test_a_json_lines_file_is_sent_to_produce_in_one_short_line(tmp_path: Path) -> None:
    """A JSON-lines file given to replay is refused in one short line that names produce --from."""
    trips = tmp_path / "trips.jsonl"
    line = '{"id":"t-1","vendorId":2,"pickupDate":"2024-11-01T00:00:00+00:00","tripDuration":277}'
    trips.write_text(f"{line}\n{line}\n")
    with pytest.raises(SourceError) as caught:
        open_files([trips])
    message = str(caught.value)
    assert "\n" not in message
    assert len(message.replace(str(trips), "F")) < 200  # the path aside
    assert "Parquet or CSV" in message
    assert message.endswith(f"taxi-stream produce --from {trips}")


def test_a_json_array_is_called_an_array_not_json_lines(tmp_path: Path) -> None:
    """A JSON array given to replay is named as one: produce --from would take it as one record."""
    trips = tmp_path / "trips.json"
    trips.write_text('[{"id":"t-1","vendorId":2},\n {"id":"t-2","vendorId":1}]\n')
    with pytest.raises(SourceError) as caught:
        open_files([trips])
    message = str(caught.value)
    assert "looks like a JSON array" in message
    assert "one trip object a line" in message
    assert "JSON lines:" not in message
