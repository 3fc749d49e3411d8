-- Stage the force incident extract (already cast row by row in etl/sources/extract.py): derive the month
-- and ISO week start (Monday) of recording, and fill an empty district from the LSOA lookup.
with

source as (
    select * from raw_extract
),

lsoa as (
    select lsoa_code, district from lsoa
),

with_district as (
    select
        source.*,
        coalesce(source.district, lsoa.district) as district_filled
    from source
    left join lsoa on lsoa.lsoa_code = source.lsoa_code
),

final as (
    select
        incident_ref,
        recorded_at,
        date_trunc('month', recorded_at)::date                                    as month,
        (recorded_at::date - (isodow(recorded_at) - 1)::integer)::date           as week_start,
        offence_code,
        offence_description,
        crime_type,
        district_filled                                                           as district,
        lsoa_code,
        domestic_abuse,
        hate_crime,
        child_victim,
        outcome,
        outcome_date,
        victim_key,
        force_id
    from with_district
)

select * from final
